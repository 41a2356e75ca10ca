from edge_node.main import main

main()
