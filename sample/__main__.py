from sample.build import main

main()
