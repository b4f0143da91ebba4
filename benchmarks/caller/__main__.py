from benchmarks.caller.run import main

main()
