"""The FBNetV3OD model: FBNet backbones (specs, builders, named archs), normalisation layers, the C4 Faster R-CNN
assembly and its inference copy."""
