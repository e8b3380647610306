"""The built-in themes: dark, light and a high-contrast one that reads on a
16-colour terminal (ANSI colours only, so the terminal's own palette decides)."""

from __future__ import annotations

from textual.theme import Theme

DARK = Theme(
    name="envdeck-dark",
    primary="#3b8eea",
    secondary="#6c7a89",
    accent="#e5a50a",
    warning="#e5a50a",
    error="#e05561",
    success="#4ec27a",
    foreground="#d8dee9",
    background="#161b22",
    surface="#1f2530",
    panel="#2a3240",
    dark=True,
    variables={
        "footer-key-foreground": "#3b8eea",
        "block-cursor-text-style": "bold",
    },
)

LIGHT = Theme(
    name="envdeck-light",
    primary="#0b5cad",
    secondary="#5a6b7b",
    accent="#9a5b00",
    warning="#9a5b00",
    error="#b3261e",
    success="#1e7b34",
    foreground="#1b1f24",
    background="#f6f8fa",
    surface="#ffffff",
    panel="#e6eaef",
    dark=False,
    variables={
        "footer-key-foreground": "#0b5cad",
        "block-cursor-text-style": "bold",
    },
)

HIGH_CONTRAST = Theme(
    name="envdeck-high-contrast",
    ansi=True,
    primary="ansi_bright_cyan",
    secondary="ansi_bright_blue",
    accent="ansi_bright_yellow",
    warning="ansi_bright_yellow",
    error="ansi_bright_red",
    success="ansi_bright_green",
    foreground="ansi_bright_white",
    background="ansi_black",
    surface="ansi_black",
    panel="ansi_black",
    boost="ansi_black",
    dark=True,
    variables={
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_bright_white",
        "border": "ansi_bright_white",
        "border-blurred": "ansi_white",
        "block-cursor-foreground": "ansi_black",
        "block-cursor-background": "ansi_bright_cyan",
        "block-cursor-text-style": "bold",
        "block-cursor-blurred-foreground": "ansi_black",
        "block-cursor-blurred-background": "ansi_white",
        "input-cursor-background": "ansi_bright_white",
        "input-cursor-foreground": "ansi_black",
        "input-cursor-text-style": "none",
        "input-selection-background": "ansi_bright_blue",
        "input-selection-foreground": "ansi_black",
        "screen-selection-background": "ansi_bright_blue",
        "screen-selection-foreground": "ansi_black",
        "footer-key-foreground": "ansi_bright_cyan",
        "footer-background": "ansi_black",
        "footer-foreground": "ansi_bright_white",
        "footer-description-foreground": "ansi_bright_white",
        # the keys' own cells black too: ANSI themes leave them the terminal's default background,
        # white on white on a light terminal (on-call finding, session 12)
        "footer-item-background": "ansi_black",
        "footer-description-background": "ansi_black",
        "scrollbar": "ansi_white",
        "scrollbar-background": "ansi_black",
        "text-muted": "ansi_white",
    },
)

BUILTIN: tuple[Theme, ...] = (DARK, LIGHT, HIGH_CONTRAST)
DEFAULT_THEME = DARK.name

# Short names users write in `ui.theme` or `:theme NAME`.
ALIASES = {"dark": DARK.name, "light": LIGHT.name, "high-contrast": HIGH_CONTRAST.name,
           "hc": HIGH_CONTRAST.name}
