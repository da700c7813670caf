from flask import Blueprint

bp = Blueprint("enroll", __name__)
