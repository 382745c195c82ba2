from refuge_notifications.entrypoints.cli import main

main()
