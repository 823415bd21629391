from spyagency.cli import main

main()
