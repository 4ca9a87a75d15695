"""Operator accounts, for admins: list, add, disable, set a password (as `gateway operators` does)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from console.accounts import AccountError
from console.auth import Caller, console_of, guard
from console.roles import Permission, Role

router = APIRouter(tags=["accounts"])


class NewAccount(BaseModel):
    login: str = Field(min_length=1, max_length=64)
    role: Role
    password: str = Field(min_length=1, max_length=1024)
    party: str | None = Field(None, max_length=64)


class NewPassword(BaseModel):
    password: str = Field(min_length=1, max_length=1024)


@router.get("/operators", summary="every account")
def list_operators(request: Request, _: Caller = guard(Permission.ADMINISTER)) -> dict[str, Any]:
    return {"items": [operator.public() for operator in console_of(request).accounts.all()]}


@router.post("/operators", status_code=201, summary="a new account")
def add_operator(new: NewAccount, request: Request, caller: Caller = guard(Permission.ADMINISTER)) -> dict[str, Any]:
    try:
        operator = console_of(request).accounts.add(
            new.login, new.role.value, new.password, party=new.party, by=caller.entry("account.add")
        )
    except AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    return operator.public()


@router.post("/operators/{login}/disable", summary="disable an account: its sessions end, its API tokens stop")
def disable_operator(login: str, request: Request, caller: Caller = guard(Permission.ADMINISTER)) -> dict[str, Any]:
    try:
        return console_of(request).accounts.disable(login, by=caller.entry("account.disable")).public()
    except AccountError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.post("/operators/{login}/password", summary="set an account's password: its sessions end")
def set_password(login: str, new: NewPassword, request: Request, caller: Caller = guard(Permission.ADMINISTER)) -> dict[str, Any]:
    accounts = console_of(request).accounts
    if accounts.get(login) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no account {login}")
    try:
        accounts.set_password(login, new.password, by=caller.entry("account.password"))
    except AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    return {"login": login.strip().lower(), "password": "changed"}
