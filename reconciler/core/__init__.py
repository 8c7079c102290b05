"""The pure core: the document, states, diff, plan, safety rails and rendering. No I/O beyond
reading the document's file, and no AWS, git, scheduler, metrics, process or network imports
(`make lint` checks the contract with import-linter)."""
