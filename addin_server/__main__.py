from addin_server.cli import main

main()
