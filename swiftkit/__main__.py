from swiftkit.cli import main

raise SystemExit(main())
