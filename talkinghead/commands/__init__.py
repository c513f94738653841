"""The commands: one module each (render/reenact, edit, track, prepare, pack, train, demo),
each composing the library rooms (renderers, face, io, aupost, ...) for one job. Commands
never import each other; the front ends (cli.py, app/) call them."""
