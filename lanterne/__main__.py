from lanterne.cli import main

main()
