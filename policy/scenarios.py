"""The simulator's scenarios, with work figures calibrated on the real operations.

Calibration (this machine, `node.load.calibrate()` speed 1.29, best of 5 runs
of `media.process` on /work/shared/media): images, astronaut.png 512x512,
in seconds per megapixel: grayscale 0.130, resize 0.100, sharpen 0.268,
blur 0.329, edges 0.343; videos, chelsea-pan.mp4 320x240 (0.077 MP) 48 frames,
in seconds per frame: transcode 0.00155, resize 0.00177, grayscale 0.00277.
Multiplied by the speed 1.29 to get reference seconds (a node of speed 1.0),
the operation mix averages about 0.30 s per megapixel for images and
0.034 s per frame-megapixel for videos. These are parameters: the coordinator
fills them from its cost model's measurements.

Scenarios (all share the same shapes, so one compiled trainer serves all):
- `steady`: Poisson arrivals at 3 tasks/s, four edge nodes, fixed links;
- `bursty`: a two-state Markov-modulated Poisson process (1.5/s calm, 12/s in
  bursts of about 40 tasks);
- `drift`: as steady, but now and then (1 chance in 250 per arrival) the
  cloud bandwidth falls to 10-100 % of nominal and each edge node's true speed
  to 30-100 % of what its heartbeat reports; the observation is not told;
- `edge-failure`: as steady, but edge nodes die (1 chance in 300 per arrival
  each) and come back after a while; a dead node looks idle until its
  heartbeat expires after 5 s.
"""

from dataclasses import asdict, dataclass, replace

import jax.numpy as jnp
import numpy as np

from policy.sim import EDGE_SLOTS, EnvParams

IMAGE_S_PER_MP = 0.30
"""Reference seconds per megapixel, mean of the image operations measured."""
VIDEO_S_PER_FRAME_MP = 0.034
"""Reference seconds per frame and megapixel, mean of the video operations."""
IMAGE_MB_PER_MP = 0.30
"""Compressed photo bytes per megapixel (JPEG/PNG photos)."""
VIDEO_MB_PER_FRAME_MP = 0.03
"""Compressed clip bytes per frame-megapixel (H.264 at about 1.5 Mbit/s)."""


@dataclass(frozen=True)
class Scenario:
    """A named set of simulator parameters, in plain units."""

    name: str
    edge_speed: tuple[float, ...] = (1.0, 1.0, 0.8, 0.8)
    cloud_speed: float = 1.5
    edge_bw_mbps: float = 60.0
    edge_rtt_s: float = 0.005
    cloud_bw_mbps: float = 12.5
    cloud_rtt_s: float = 0.08
    price_per_cpu_s: float = 1.0
    cost_weight: float = 1.0
    reward_scale_s: float = 2.0
    rate_low: float = 3.0
    rate_high: float = 3.0
    p_burst_start: float = 0.0
    p_burst_end: float = 1.0
    video_fraction: float = 0.15
    image_mp_median: float = 2.0
    image_mp_sigma: float = 0.7
    image_s_per_mp: float = IMAGE_S_PER_MP
    image_mb_per_mp: float = IMAGE_MB_PER_MP
    video_frame_mp_median: float = 48.0
    video_frame_mp_sigma: float = 0.7
    video_s_per_frame_mp: float = VIDEO_S_PER_FRAME_MP
    video_mb_per_frame_mp: float = VIDEO_MB_PER_FRAME_MP
    work_noise_sigma: float = 0.2
    measure_noise_sigma: float = 0.1
    drift_p: float = 0.0
    drift_bw_low: float = 1.0
    drift_speed_low: float = 1.0
    fail_p: float = 0.0
    recover_p: float = 0.0
    heartbeat_s: float = 1.0
    expiry_s: float = 5.0
    smoothing: float = 0.2
    episode_len: int = 1024

    def params(self) -> EnvParams:
        """The scenario as simulator arrays."""
        speeds = np.zeros(EDGE_SLOTS, np.float32)
        speeds[: len(self.edge_speed)] = self.edge_speed
        present = (speeds > 0).astype(np.float32)
        fields = asdict(self)
        fields.pop("name")
        fields["edge_speed"] = np.where(present > 0, speeds, 1.0)
        fields["edge_present"] = present
        fields["proto_s_per_mb"] = self.prototype_s_per_mb()
        return EnvParams(
            **{
                k: jnp.asarray(v, jnp.int32 if k == "episode_len" else jnp.float32)
                for k, v in fields.items()
            }
        )

    def prototype_s_per_mb(self) -> float:
        """Mean work per MB of the task mix: the prototype's one fixed rate."""
        image = self.image_s_per_mp / self.image_mb_per_mp
        video = self.video_s_per_frame_mp / self.video_mb_per_frame_mp
        image_mb = self.image_mp_median * self.image_mb_per_mp
        video_mb = self.video_frame_mp_median * self.video_mb_per_frame_mp
        share_v = self.video_fraction * video_mb
        share_i = (1 - self.video_fraction) * image_mb
        return (share_i * image + share_v * video) / (share_i + share_v)


STEADY = Scenario("steady")
SCENARIOS: dict[str, Scenario] = {
    "steady": STEADY,
    "bursty": replace(
        STEADY,
        name="bursty",
        rate_low=1.5,
        rate_high=12.0,
        p_burst_start=0.01,
        p_burst_end=0.025,
    ),
    "drift": replace(
        STEADY, name="drift", drift_p=0.004, drift_bw_low=0.1, drift_speed_low=0.3
    ),
    "edge-failure": replace(
        STEADY, name="edge-failure", fail_p=1 / 300, recover_p=0.01
    ),
    # The emulated system of `make bench-system` on one machine: three small
    # edge devices (speed factors 0.3, 0.2, 0.1 of a node calibrated near
    # 1.25), cloud nodes behind 60 ms and 10 MB/s, the sample photos (about
    # 0.2 MP, stored as PNG at about 2.5 MB per MP) and 48-frame 320x240
    # clips, arriving at 2/s with bursts of about 30 tasks.
    "lab": replace(
        STEADY,
        name="lab",
        edge_speed=(0.38, 0.25, 0.13),
        cloud_speed=1.0,
        edge_bw_mbps=100.0,
        edge_rtt_s=0.002,
        cloud_bw_mbps=10.0,
        cloud_rtt_s=0.06,
        rate_low=2.0,
        rate_high=40.0,
        p_burst_start=0.01,
        p_burst_end=1 / 30,
        video_fraction=0.14,
        image_mp_median=0.2,
        image_mp_sigma=0.3,
        image_mb_per_mp=2.5,
        video_frame_mp_median=3.7,
        video_frame_mp_sigma=0.1,
        video_mb_per_frame_mp=0.01,
    ),
}


def get(name: str) -> Scenario:
    """The scenario of that name; ValueError lists the known ones."""
    if name not in SCENARIOS:
        known = ", ".join(SCENARIOS)
        raise ValueError(f"unknown scenario {name!r}; known: {known}")
    return SCENARIOS[name]
