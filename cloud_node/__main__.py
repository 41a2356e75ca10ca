from cloud_node.main import main

main()
