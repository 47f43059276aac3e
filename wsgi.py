from stockapp import create_app

app = create_app()
