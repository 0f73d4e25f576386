"""The stages of a search around its trials: proxy-budget calibration, the final predictor-driven evolution that
names the winner (within the span the trials measured), and the closing summary."""
