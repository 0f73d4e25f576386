"""Deploying FBNetV3OD: TorchScript / ONNX export, the exported model run behind the detector's interface, int8
quantization, predictions on image files and the latency of what is deployed."""
