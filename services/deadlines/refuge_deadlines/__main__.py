from refuge_deadlines.entrypoints.cli import main

main()
