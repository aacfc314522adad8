echo "0 passed, 1 failed"; exit 1
