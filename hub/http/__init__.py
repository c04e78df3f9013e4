"""What every HTTP route shares: the dependencies (``deps``) and the base read models
(``views``).
"""
