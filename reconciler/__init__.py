"""reconciler: GitOps for AWS Organizations and cross-account access."""

from importlib import metadata

# The distribution is named apart from the import name: `reconciler` on PyPI is another project.
DISTRIBUTION = "aws-org-reconciler"

try:
    __version__ = metadata.version(DISTRIBUTION)
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
