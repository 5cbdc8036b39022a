from coldsend.cli import app

app()
