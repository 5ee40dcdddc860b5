from p2pmarket.cli import main

main()
