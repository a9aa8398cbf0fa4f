"""``python -m sessionspec.conformance.harness``: serve sessionspec's runtime over stdio."""

from sessionspec.conformance.harness.stdio import main

raise SystemExit(main())
