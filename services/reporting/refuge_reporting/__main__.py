from refuge_reporting.entrypoints.cli import main

main()
