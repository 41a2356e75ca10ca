"""The counters this web process keeps for /metrics."""

from collections import Counter


class Metrics:
    """Uploads and answered requests since this process started."""

    def __init__(self) -> None:
        self.upload_bytes = 0
        self.uploaded_files = 0
        self.requests: Counter[tuple[str, str, int]] = Counter()

    def record_upload(self, files: int, size_bytes: int) -> None:
        """Count the files and bytes of one successful upload request."""
        self.uploaded_files += files
        self.upload_bytes += size_bytes

    def record_request(self, method: str, route: str, status: int) -> None:
        """Count one answered HTTP request."""
        self.requests[(method, route, status)] += 1
