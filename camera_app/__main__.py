from __future__ import annotations

from camera_app.cli import main

raise SystemExit(main())
