"""The backend author's kit: ``nnspec new-backend`` (scaffold.py) and ``nnspec check-adapter`` (contract.py)."""
