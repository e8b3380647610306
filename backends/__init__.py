"""Backend adapters (AWS, Kubernetes, edge over SSH). Never import Textual here."""
