"""``fsm dead-letters list|replay SERVICE``: a service's dead letters, shown or published again
(the broker work is `shared.dead_letters`)."""

from __future__ import annotations

import json
from datetime import datetime

from fsm.common import EXIT_OK, EXIT_PARTIAL, CliError, cli_config
from shared.dead_letters import DeadLetterError, list_dead_letters, queue_name, replay


def register(subparsers):
    p = subparsers.add_parser("dead-letters", help="list or replay the messages of a service's dead-letter queue")
    sub = p.add_subparsers(dest="dead_letters_command", metavar="ACTION")
    sub.required = True
    ls = sub.add_parser("list", help="show each dead letter (origin, message id, reason, body) and leave it queued")
    ls.add_argument("service", metavar="SERVICE")
    ls.add_argument("--limit", type=int, metavar="N", help="only the first N")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(func=cmd_list)
    rp = sub.add_parser("replay", help="publish each dead letter to the exchange and routing key it came from")
    rp.add_argument("service", metavar="SERVICE")
    rp.add_argument("--limit", type=int, metavar="N", help="only the first N")
    rp.set_defaults(func=cmd_replay)


def _amqp_uri(args):
    return cli_config(args)["AMQP_URI"]


def cmd_list(args) -> int:
    try:
        letters = list_dead_letters(_amqp_uri(args), args.service, args.limit)
    except DeadLetterError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        for letter in letters:
            print(json.dumps(letter.to_dict(), ensure_ascii=False, default=str))
        return 0
    print(
        f"{queue_name(args.service)}: {len(letters)} dead letter{'s' if len(letters) != 1 else ''}"
        + (" shown" if args.limit is not None else "")
    )
    for letter in letters:
        print(f"{letter.position:>4}  {_describe(letter)}")
        print(f"      {letter.preview()}")
    return 0


def _describe(letter) -> str:
    """``dispatch.events → visit.started  id=…  rejected by <queue> ×1 at <time>``"""
    o = letter.origin
    if o is None:
        return f"(origin unknown)  id={letter.message_id or '-'}"
    text = f"{o.exchange or '(default exchange)'} → {o.routing_key}  id={letter.message_id or '-'}"
    text += f"  {o.reason or '?'} by {o.queue or '?'}"
    if o.count:
        text += f" ×{o.count}"
    if isinstance(o.time, datetime):
        text += f" at {o.time.isoformat()}"
    if letter.replays:
        text += f"  (replayed {letter.replays}× before)"
    return text


def cmd_replay(args) -> int:
    try:
        result = replay(_amqp_uri(args), args.service, args.limit)
    except DeadLetterError as exc:
        raise CliError(str(exc)) from None
    print(
        f"replayed {result.replayed} of {result.present} dead letter{'s' if result.present != 1 else ''} "
        f"in {result.queue}"
    )
    if result.without_origin:
        print(f"  {result.without_origin} without an x-death origin: left on the queue")
    for message_id, error in result.failed:
        print(f"  not replayed: {message_id or '-'}: {error} (left on the queue; replay stopped)")
    return EXIT_PARTIAL if result.failed or result.without_origin else EXIT_OK
