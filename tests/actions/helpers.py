"""Running actions in tests as the action server does."""
import asyncio
import inspect


def run_action(action, dispatcher, tracker, domain=None):
    """Run an action's run(), whether it is sync or async."""
    result = action.run(dispatcher, tracker, domain or {})
    return asyncio.run(result) if inspect.isawaitable(result) else result
