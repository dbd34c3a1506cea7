"""Built-in defaults that make a fresh workspace work with no configuration."""

DEFAULT_AGENT = "docs-writer"
DEFAULT_PROVIDER = "local"
DEFAULT_FRAME_TYPE = "context"

# Files whose text a model adds nothing to, summarised offline with no provider call
# (gitignore patterns): lock files, minified bundles and maps, generated code.
DEFAULT_LOCAL_ONLY = (
    "*.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "pnpm-lock.yaml",
    "go.sum",
    "*.min.js",
    "*.min.css",
    "*.map",
    "*_pb2.py",
    "*_pb2_grpc.py",
    "*.pb.go",
    "*.generated.*",
)
