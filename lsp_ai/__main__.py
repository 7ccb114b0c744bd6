"""`python -m lsp_ai` is the same as the `lsp-ai` console script."""

from lsp_ai.cli import main

raise SystemExit(main())
