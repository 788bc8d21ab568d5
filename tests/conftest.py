import sys
from pathlib import Path

# Test helpers under tests/support are imported as the top-level package ``support``.
sys.path.insert(0, str(Path(__file__).parent))
