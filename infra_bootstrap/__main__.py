from infra_bootstrap.cli import main

main()
