from awrs.cli import main

raise SystemExit(main())
