"""The exception tree of camera_app, in one place.

    CameraAppError (Exception)            every error we raise on purpose
    ├── UserError                         the user can fix it; the CLI prints one line, exits 2
    │   ├── ConfigError (+ValueError)     bad YAML or CLI values: file, line, key, suggestion
    │   ├── ModelError (+ValueError)      a model we cannot run: file, tensor or op, expected, got
    │   │   ├── ModelNotFoundError (+FileNotFoundError)
    │   │   ├── UnsupportedInputError     input dtype/shape/count the pipeline cannot feed
    │   │   ├── OutputLayoutError         outputs that match no SSD layout we know
    │   │   ├── EdgeTPUModelError         needs the Edge TPU delegate
    │   │   └── LabelsError               labels that do not fit the model's classes
    │   ├── ImageError (+ValueError)      an image file that cannot be read
    │   └── RuntimeMissingError (+ImportError) neither ai-edge-litert nor tflite-runtime
    └── SourceError (+OSError)            a camera/stream failed; carries a classified `kind`

Every message names what and where, what was expected, what was found, and what to do.
Messages never contain credentials: sources pass URLs through ``camera_app.redact`` first.
"""

from __future__ import annotations


class CameraAppError(Exception):
    """Base of all errors camera_app raises on purpose."""


class UserError(CameraAppError):
    """An error the user can fix (bad file, bad config, incompatible model)."""

    exit_code = 2


class ConfigError(UserError, ValueError):
    """Invalid configuration: says which file, line and key, and what would be valid."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class ModelError(UserError, ValueError):
    """A model that cannot run on this pipeline."""

    def __init__(self, message: str, *, model: str | None = None) -> None:
        super().__init__(f"{model}: {message}" if model else message)
        self.model = model


class ModelNotFoundError(ModelError, FileNotFoundError):
    """No model at the given path or name."""


class UnsupportedInputError(ModelError):
    """The model's input tensor cannot be fed by this pipeline."""


class OutputLayoutError(ModelError):
    """The model's outputs match no SSD layout we recognise."""


class EdgeTPUModelError(ModelError):
    """A model compiled for the Edge TPU, which needs its delegate."""


class LabelsError(ModelError):
    """A label file that does not fit the model."""


class ImageError(UserError, ValueError):
    """An image file that cannot be read or decoded."""


class RuntimeMissingError(UserError, ImportError):
    """No TFLite runtime is installed."""


class SourceError(CameraAppError, OSError):
    """A frame source failed. ``kind`` is one of the classes in ``camera_app.sources.errors``."""

    def __init__(self, message: str, *, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind
