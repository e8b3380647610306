"""`n` on the overview: a new environment from a template.

1. Pick a template: those you may create from; the others are listed disabled with the
   reason (the template's `creators`).
2. The form: the environment's name, its TTL (blank: the template's) and one field per
   parameter, built from the template's `ParameterSpec` (type, default, pattern,
   minimum/maximum). Each field is checked as it is typed (`ParameterSpec.parse`), the
   error under the field.
3. Plan (`ctrl+y`, or Enter in the last field): the waves and steps from
   `Session.env_plan`, nothing done yet; then Create or Cancel, **Cancel focused** as in
   every confirmation of envdeck (Cancel goes back to the form; Esc there closes). A key
   that would create, typed before the plan was shown, is ignored (screens/dialog_guard.py).
4. Create: `Session.env_create(wait=False)` in a worker; the reconciler carries it out and
   the overview shows the new environment at once (provisioning, step n/m).

I/O runs in workers that post typed messages (`TemplatePlanned`, `LifecycleRequested`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from screens.base import EnvdeckScreen, steady_input
from screens.dialog_guard import DialogGuard
from screens.key_hold import FORM_FIELD_HOLD, NEW_ENV_HOLD, release_keys
from screens.lifecycle_steps import remaining_text
from tui.core.config import ENV_NAME_RE, parse_duration
from tui.core.errors import EnvdeckError, PolicyDenied
from tui.core.sanitize import clean
from tui.messages import LifecycleRequested, TemplatePlanned
from tui.widgets.cells import Palette, muted, safe
from tui.widgets.keyed_table import Cells, KeyedTable
from tui.widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from tui.core.lifecycle.plan import Plan
    from tui.core.lifecycle.service import TemplateChoice
    from tui.core.lifecycle.template import ParameterSpec

NAME, TTL = "name", "ttl"
PLAN_COLUMNS = (("wave", "WAVE"), ("step", "STEP"), ("backend", "BACKEND"), ("kind", "KIND"),
                ("after", "AFTER"))


def duration_text(seconds: float | None) -> str:
    """86400 → `24h`, 5400 → `90m`: the largest unit that divides it."""
    if not seconds:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def default_text(spec: ParameterSpec) -> str:
    """The default as the field shows it (`true`, not Python's `True`); "" when there is none."""
    if spec.default is None:
        return ""
    return str(spec.default).lower() if isinstance(spec.default, bool) else str(spec.default)


def spec_hint(spec: ParameterSpec) -> str:
    """What a parameter takes: `integer 0…10 · default 1`, `string ^[a-z0-9-]{1,30}$`."""
    parts = [spec.type]
    if spec.minimum is not None or spec.maximum is not None:
        parts[0] += f" {'' if spec.minimum is None else spec.minimum}…{'' if spec.maximum is None else spec.maximum}"
    if spec.pattern:
        parts.append(spec.pattern)
    if spec.default is not None:
        parts.append(f"default {default_text(spec)}")
    if spec.description:
        parts.append(spec.description)
    return clean(" · ".join(parts), max_len=200)


def plan_rows(plan: Plan, palette: Palette) -> dict[str, Cells]:
    wave_of = {step_id: i for i, wave in enumerate(plan.waves, start=1) for step_id in wave}
    rows: dict[str, Cells] = {}
    for step in sorted(plan.steps, key=lambda s: (wave_of.get(s.id, 0), s.id)):
        rows[step.id] = (Text(str(wave_of.get(step.id, "?")), style=palette.style("accent", bold=True), end=""),
                         safe(step.id, max_len=60, style=palette.style("primary")),
                         safe(step.backend, max_len=20), safe(step.kind, max_len=40),
                         safe(", ".join(step.depends_on), max_len=60) if step.depends_on else muted("—", palette))
    return rows


class FormField(Vertical):
    """A label and an input on one line, the hint or the error under it."""

    DEFAULT_CSS = """
    FormField { height: auto; }
    FormField > Horizontal { height: 1; }
    FormField Label { width: 14; color: $foreground; text-style: bold; }
    FormField Input { width: 1fr; }
    FormField > .field-hint { height: auto; max-height: 4; padding-left: 14; color: $text-muted; }
    FormField.invalid > .field-hint { color: $error; text-style: bold; }
    """

    def __init__(self, key: str, label: str, value: str, hint: str, placeholder: str = "") -> None:
        super().__init__(id=f"field-{key}")
        self.key = key
        self.label = label
        self.value = value
        self.hint = hint
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(Text(clean(self.label, max_len=13)))
            yield steady_input(self.app, value=self.value, placeholder=self.placeholder, compact=True,
                               id=f"input-{self.key}")
        yield Static(Text(self.hint, end=""), classes="field-hint")

    def show_error(self, error: str | None) -> None:
        self.set_class(bool(error), "invalid")
        self.query_one(".field-hint", Static).update(Text(clean(error, max_len=200) if error else self.hint, end=""))


class NewEnvironmentScreen(DialogGuard, EnvdeckScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="new-env-back", tooltip="The plan: back to the form; the form: close"),
        Binding("ctrl+y", "confirm", "Plan/Create", id="new-env-confirm",
                tooltip="The form: show the plan; the plan: create"),
        # as in every confirmation: left to the action (Create, Plan), right to Cancel; in a field
        # the arrows move its cursor (the field's own keys come first)
        Binding("left", "focus_button('ok')", "Create/Plan button", id="new-env-focus-ok", show=False),
        Binding("right", "focus_button('cancel')", "Cancel button", id="new-env-focus-cancel", show=False),
        # Textual's own focus keys, run here so that the keys typed after them can wait for the move
        Binding("tab", "move_focus(1)", "Next field", id="new-env-next-field", show=False),
        Binding("shift+tab", "move_focus(-1)", "Previous field", id="new-env-previous-field", show=False),
    ]
    GUARD_FROM_MOUNT = False  # the form is no confirmation; its plan is (guarded once shown)
    GUARD_HINT = "#new-env-error"
    GUARD_WHAT = "the plan"
    DEFAULT_CSS = """
    NewEnvironmentScreen #templates { height: auto; max-height: 5; border: none; background: $surface; }
    NewEnvironmentScreen #template-info { height: auto; max-height: 4; color: $text-muted; padding: 0 1; }
    NewEnvironmentScreen #form { height: 1fr; padding: 0 1; }
    NewEnvironmentScreen #plan { height: 1fr; }
    NewEnvironmentScreen #plan-info { height: auto; max-height: 2; padding: 0 1; }
    NewEnvironmentScreen #new-env-error { height: auto; max-height: 3; padding: 0 1; color: $error; }
    NewEnvironmentScreen #new-env-buttons { height: 1; align-horizontal: right; padding: 0 1; }
    NewEnvironmentScreen #new-env-buttons Button { margin-left: 2; }
    NewEnvironmentScreen.planned #form, NewEnvironmentScreen.planned #plan-button { display: none; }
    NewEnvironmentScreen.planned #templates { display: none; }
    NewEnvironmentScreen #plan, NewEnvironmentScreen #create { display: none; }
    NewEnvironmentScreen.planned #plan, NewEnvironmentScreen.planned #create { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.choices: list[TemplateChoice] = []
        self.template: TemplateChoice | None = None
        self.plan: Plan | None = None
        self._values: dict[str, str] = {}  # name and TTL kept when another template is picked
        self._busy = False
        self._early: list[str] = []  # characters typed before the form was there, for the name
        self._form_holding = False  # an Enter (ctrl+y) in a field holds the keys after it (FORM_FIELD_HOLD)

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        yield OptionList(id="templates")
        yield Static(id="template-info")  # as a .hint, but wrapped on up to 4 lines (a hint stops at 2)
        yield VerticalScroll(id="form")
        with Vertical(id="plan"):
            yield Static(id="plan-info")
            yield KeyedTable(PLAN_COLUMNS, id="plan-table")
        yield Static(id="new-env-error")
        with Horizontal(id="new-env-buttons"):
            yield Button("Plan", variant="primary", id="plan-button", compact=True)
            yield Button("Create", variant="success", id="create", compact=True)
            yield Button("Cancel", id="cancel", compact=True)
        yield SteadyFooter(compact=True)

    async def on_mount(self) -> None:
        try:
            await self._build()
        finally:  # the keys typed after `n` (the overview held them) go to the form now
            release_keys(self.app, NEW_ENV_HOLD)

    async def _build(self) -> None:
        palette = self.envdeck.palette
        self.query_one("#title", Static).update(Text(" New environment", style=palette.style("primary", bold=True),
                                                     end=""))
        self.choices = list(self.session.templates())
        options = self.query_one(OptionList)
        for choice in self.choices:
            allowed = choice.decision.allowed
            prompt = Text(clean(choice.name, max_len=40), style=palette.style("primary" if allowed else "text-muted",
                                                                                bold=allowed), end="")
            why = (clean(choice.config.description or "", max_len=100) if allowed
                   else f"not allowed: {clean(choice.decision.reason, max_len=100)}")
            if why:
                prompt.append(f"  {why}", style=palette.style("text-muted" if allowed else "warning"))
            options.add_option(Option(prompt, id=choice.name, disabled=not allowed))
        first = next((i for i, c in enumerate(self.choices) if c.decision.allowed), None)
        self.ready = True
        if first is None:
            self.query_one("#template-info", Static).update(Text(
                "no template you may create from" if self.choices else "no templates in the config", end=""))
            self.query_one("#cancel", Button).focus()
            return
        options.highlighted = first
        options.focus()
        await self._choose(self.choices[first])
        if sum(1 for c in self.choices if c.decision.allowed) == 1:
            # nothing to pick: the keys typed next go to the name
            self.query_one(f"#input-{NAME}", Input).focus()

    # -- keys typed in one burst ------------------------------------------------------------
    def holds_keys_after(self, key: str) -> str | None:
        """An Enter in a field of the form but the last moves the focus to the next field (Tab in any,
        shift+tab back): the keys typed after it wait until it did (screens/key_hold.py), so that a
        fast typist's `pr-7⏎2h` (or `pr-7⇥2h`) puts 2h in the TTL, not `pr-72h` in the name. The last field's Enter (or ctrl+y) makes the
        plan: what is typed while it is made stays in the form or is said ignored (`planning…`);
        the plan's keys are its guard's (screens/dialog_guard.py)."""
        if self.plan is not None or not self.ready:
            return super().holds_keys_after(key)
        if key not in ("enter", "tab", "shift+tab") or self._busy or self.focused is None:
            return None
        inputs = list(self.query("#form Input").results(Input))
        if key == "enter" and self.focused not in inputs[:-1]:
            return None  # Tab and shift+Tab move from anywhere (the template list, the form's box, a button)
        self._form_holding = True
        return FORM_FIELD_HOLD

    def action_move_focus(self, step: int) -> None:
        """Tab / shift+tab, as Textual's: the next (previous) field or button; then the keys held
        after it go on. A field the focus lands on selects its text (typing replaces it), the name
        too after the plan's Esc left it unselected."""
        for field in self.query("#form Input").results(Input):
            field.select_on_focus = True
        if step > 0:
            self.focus_next()
        else:
            self.focus_previous()
        self._release_form_keys()

    def _release_form_keys(self) -> None:
        """The Enter's move is done (after the focus() calls queued so far): the keys after it go on."""
        if self._form_holding:
            self._form_holding = False
            release_keys(self.app, FORM_FIELD_HOLD)

    def on_key(self, event: events.Key) -> None:
        """A character typed on the template list (or before the form is there) is the start of
        the name: the focus moves to the name field and the character lands there, never lost
        (nor taken as a key of the app: `q` there is the start of a name, not Quit)."""
        if not event.is_printable or not event.character or self.plan is not None:
            return
        focused = self.focused
        if focused is not None and focused.id != "templates":
            return
        event.stop()
        event.prevent_default()
        self._name_typed_ahead(event.character)

    def refuses(self, event: events.Key, from_below: bool = False) -> bool:
        """A character of the burst that opened this screen (`n pr-7` typed at once) was given to
        the overview before the screen was pushed and comes back up unused: it is the start of the
        name, typed in (the form is no confirmation), never lost. The plan's guard is the mixin's."""
        if from_below and self.plan is None and not self._busy and event.is_printable and event.character:
            self._name_typed_ahead(event.character)
            return True
        return super().refuses(event, from_below)

    def _name_typed_ahead(self, text: str) -> None:
        name = next(iter(self.query(f"#input-{NAME}").results(Input)), None)
        if self._early or name is None or not name.is_mounted:
            self._early.append(text)  # the form is being built: _choose types it in
            return
        self._type_name(text)

    def _type_name(self, text: str) -> None:
        """`text` typed at the end of the name field, which takes the focus (without selecting
        what it holds on focus: the next key would replace it)."""
        name = self.query_one(f"#input-{NAME}", Input)
        self._focus_at_end(name)
        name.insert_text_at_cursor(text)

    @staticmethod
    def _focus_at_end(field: Input) -> None:
        """The focus to `field` with its cursor after what it holds, nothing selected: back from
        the plan, a key typed there adds to the name instead of replacing it ("pr-1" became "x")."""
        field.select_on_focus = False
        field.focus()
        field.cursor_position = len(field.value)

    # -- the template and its form ------------------------------------------------------
    @on(OptionList.OptionHighlighted, "#templates")
    async def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        choice = next((c for c in self.choices if c.name == event.option.id), None)
        if choice is not None and choice.decision.allowed and choice is not self.template:
            await self._choose(choice)

    @on(OptionList.OptionSelected, "#templates")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one(f"#input-{NAME}", Input).focus()

    async def _choose(self, choice: TemplateChoice) -> None:
        """The form of `choice` in place of the one shown (the old fields gone before the new
        ones mount: they share ids)."""
        for key in (NAME, TTL):
            for field in self.query(f"#input-{key}").results(Input):
                self._values[key] = field.value
        self.template = choice
        config = choice.config
        info = clean(config.description or "", max_len=200)
        self.query_one("#template-info", Static).update(Text(f"{clean(choice.name)}: {info}" if info
                                                             else clean(choice.name), end=""))
        ttl, max_ttl = config.ttl, config.max_ttl
        ttl_hint = (f"blank: {duration_text(ttl)}" if ttl else "blank: no expiry") + \
            (f" · at most {duration_text(max_ttl)}" if max_ttl else "") + " · e.g. 30m, 4h, 2d"
        fields = [FormField(NAME, "name", self._values.get(NAME, ""), "a-z, 0-9 and -, at most 63"),
                  # no placeholder: a greyed 4h looked typed; the hint under it says what blank means
                  FormField(TTL, "ttl", self._values.get(TTL, ""), ttl_hint)]
        for i, (pname, spec) in enumerate(config.parameters.items()):
            fields.append(FormField(f"p{i}", pname, default_text(spec), spec_hint(spec)))
        form = self.query_one("#form", VerticalScroll)
        self._clear_plan()
        await form.remove_children()
        await form.mount_all(fields)
        if self._early:  # typed while the form was being built: the start of the name
            self._type_name("".join(self._early))
            self._early.clear()

    @property
    def parameter_names(self) -> list[str]:
        return list(self.template.config.parameters) if self.template is not None else []

    # -- checking each field as it is typed ----------------------------------------------------
    def field_error(self, key: str, text: str) -> str | None:
        if self.template is None:
            return None
        if key == NAME:
            if not text:
                return "a name is required"
            if not ENV_NAME_RE.match(text):
                return "must be 1-63 of a-z, 0-9 and -"
            if text in self.session.environments() or text in self.envdeck.managed:
                return f"an environment named {text} exists"
            return None
        if key == TTL:
            if not text.strip():
                return None
            try:
                seconds = parse_duration(text)
            except ValueError as exc:
                if "is not a duration" in str(exc):  # its examples (500ms, 30s) are no TTLs
                    # one number and one unit, as everywhere (tui/core/durations.py): `1h30m` is `90m`
                    return f"{clean(text.strip(), max_len=30)!r} is not a TTL: one number and a unit, e.g. 90m, 4h, 2d"
                return str(exc)
            max_ttl = self.template.config.max_ttl
            if max_ttl and seconds > max_ttl:
                return f"must be at most {duration_text(max_ttl)} (the template's max_ttl)"
            return None
        name = self.parameter_names[int(key[1:])]
        spec = self.template.config.parameters[name]
        if not text:
            return None if spec.default is not None else f"{name} is required"
        try:
            spec.parse(text)
        except ValueError as exc:
            return str(exc) or "not a valid value"
        return None

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if not (event.input.id or "").startswith("input-"):
            return
        event.stop()
        key = event.input.id.removeprefix("input-")
        self.query_one(f"#field-{key}", FormField).show_error(self.field_error(key, event.value))
        self.query_one("#new-env-error", Static).update("")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.plan is not None:
            self._release_form_keys()
            return  # a field's Enter handled once the plan is shown never creates (only Create, ctrl+y)
        if self._busy:
            self._say_busy("enter")
            self._release_form_keys()
            return
        inputs = list(self.query_one("#form").query(Input))
        index = inputs.index(event.input) if event.input in inputs else len(inputs) - 1
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
            self._release_form_keys()
        else:
            self.action_confirm()

    def _form(self) -> tuple[str, dict[str, str], float | None] | None:
        """(name, parameters, ttl seconds) when every field is valid; else the errors show."""
        values = {f.key: f.query_one(Input).value for f in self.query(FormField)}
        errors = {key: self.field_error(key, value) for key, value in values.items()}
        for key, error in errors.items():
            self.query_one(f"#field-{key}", FormField).show_error(error)
        if any(errors.values()):
            first = next(key for key, error in errors.items() if error)
            field = self.query_one(f"#field-{first}", FormField)
            self.query_one("#new-env-error", Static).update(Text(  # said, not only the focus moved
                f"not yet: {clean(field.label, max_len=40)}: {clean(errors[first], max_len=160)}", end=""))
            self.query_one(f"#input-{first}", Input).focus()
            return None
        params = {pname: values[f"p{i}"] for i, pname in enumerate(self.parameter_names) if values[f"p{i}"]}
        ttl = values.get(TTL, "").strip()
        return values[NAME], params, parse_duration(ttl) if ttl else None

    # -- plan, then create ----------------------------------------------------------------
    def _say_busy(self, key: str | None) -> None:
        """An Enter or ctrl+y while the plan (or the create) is on its way: ignored, and said so.
        It is not kept for the plan: nothing typed before the plan was shown may create."""
        doing = "creating…" if self.plan is not None else "planning…"
        said = f"{doing} ({key} ignored)" if key else f"{doing} (ignored)"
        self.query_one("#new-env-error", Static).update(muted(said, self.envdeck.palette))

    def action_confirm(self, key: str | None = "ctrl+y") -> None:
        if self.template is None:
            return
        if self._busy:
            self._say_busy(key)
            return
        if self.plan is not None:
            self._create()
            return
        form = self._form()
        if form is None:
            return
        name, params, _ttl = form
        self._busy = True
        self.query_one("#new-env-error", Static).update(muted("planning…", self.envdeck.palette))
        self.run_worker(self._plan(name, self.template.name, params), group="new-env", exclusive=True,
                        exit_on_error=False)

    async def _plan(self, name: str, template: str, params: dict[str, str]) -> None:
        try:
            plan = await self.session.env_plan(name, template, params)
        except EnvdeckError as exc:
            self.post_message(TemplatePlanned(name, None, clean(exc)))
            return
        self.post_message(TemplatePlanned(name, plan))

    @on(TemplatePlanned)
    def _planned(self, message: TemplatePlanned) -> None:
        self._busy = False
        error = self.query_one("#new-env-error", Static)
        if message.plan is None:
            error.update(Text(message.error, end=""))
            return
        error.update("")
        self.plan = message.plan
        palette = self.envdeck.palette
        plan = message.plan
        form = self._form()
        ttl = form[2] if form is not None else None
        ttl = ttl or self.template.config.ttl
        info = Text(f"{clean(plan.env)} from {clean(plan.template)}: {len(plan.steps)} step(s) in "
                    f"{len(plan.waves)} wave(s)", style=palette.style("foreground", bold=True), end="")
        info.append(f" · expires in {remaining_text(ttl)}" if ttl else " · no expiry",
                    style=palette.style("text-muted"))
        info.append(" · a wave starts when every step before it is healthy", style=palette.style("text-muted"))
        self.query_one("#plan-info", Static).update(info)
        rows = plan_rows(plan, palette)
        self.query_one("#plan-table", KeyedTable).sync(rows, list(rows))
        self.add_class("planned")
        self.query_one("#cancel", Button).focus()  # Enter cancels; Create is a deliberate choice
        self.guard_until_shown()

    def _clear_plan(self) -> None:
        self.plan = None
        self.remove_class("planned")
        self.end_guard()

    def _create(self) -> None:
        form = self._form()
        if form is None:
            self._clear_plan()
            return
        name, params, ttl = form
        self._busy = True
        self.query_one("#new-env-error", Static).update(muted("creating…", self.envdeck.palette))
        self.run_worker(self._create_worker(name, self.template.name, params, ttl), group="new-env",
                        exclusive=True, exit_on_error=False)

    async def _create_worker(self, name: str, template: str, params: dict[str, str], ttl: float | None) -> None:
        try:
            managed = await self.session.env_create(name, template, params, ttl_s=ttl, wait=False)
        except PolicyDenied as exc:
            self.post_message(LifecycleRequested(name, "create", None, clean(exc), denied=True))
        except EnvdeckError as exc:
            self.post_message(LifecycleRequested(name, "create", None, clean(exc)))
        else:
            self.post_message(LifecycleRequested(name, "create", managed))

    @on(LifecycleRequested)
    def _requested(self, message: LifecycleRequested) -> None:
        message.stop()
        self._busy = False
        if message.managed is None:  # shown here (the form stays); the app hears only of what was created
            self.query_one("#new-env-error", Static).update(Text(
                ("denied: " if message.denied else "not created: ") + message.error, end=""))
            return
        self.app.post_message(LifecycleRequested(message.env, message.operation, message.managed))
        self.dismiss(message.env)

    # -- buttons and keys --------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "focus_button":  # between the buttons only (not from the template list)
            return isinstance(self.focused, Button)
        return super().check_action(action, parameters)

    def action_focus_button(self, which: str) -> None:
        button = "cancel" if which == "cancel" else "create" if self.plan is not None else "plan-button"
        self.query_one(f"#{button}", Button).focus()
        self.focus_moved()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "cancel":
            self.action_back()
        else:
            self.action_confirm(None)  # Enter, space or a click: said without naming the key

    def action_back(self) -> None:
        if self.plan is not None:
            self._clear_plan()
            self.query_one("#new-env-error", Static).update(muted("nothing was created", self.envdeck.palette))
            inputs = list(self.query_one("#form").query(Input))
            if inputs:
                self._focus_at_end(inputs[0])
            return
        self._release_form_keys()
        self.dismiss(None)
