from refuge_intake.entrypoints.cli import main

main()
