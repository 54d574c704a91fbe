from trailguard.cli.main import main

main()
