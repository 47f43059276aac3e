"""The extension objects, created unbound and bound to an app in ``create_app``."""

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import BigInteger, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase

# Every constraint gets a predictable name, so migrations can drop or alter it.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Every id, and every column naming one: 64-bit on PostgreSQL (BIGINT). SQLite's
# INTEGER is 64-bit already, and only a column typed exactly INTEGER is the
# rowid alias that numbers new rows.
ID_TYPE = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
# Batch mode lets later migrations alter tables on SQLite, which has no ALTER
# CONSTRAINT; SQLite runs DDL inside transactions, so each upgrade is all or nothing.
migrate = Migrate(render_as_batch=True, transactional_ddl=True)
# Browser sessions (the HTML pages); the JSON API takes bearer tokens instead.
login_manager = LoginManager()
csrf = CSRFProtect()
