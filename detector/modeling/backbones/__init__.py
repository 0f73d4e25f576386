"""FBNet backbones: block specs, builders and the registry of named archs.

Importing the package registers d2go's FBNetV3 detection archs (`fbnet_archs`), as importing timm's
models package registers its models.
"""

from detector.modeling.backbones import fbnet_archs  # noqa: F401  (registers the named archs)
