"""The page: GET / (the studio, its embed flags) and the files it loads."""
