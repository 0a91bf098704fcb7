@tool
extends EditorPlugin
# Enabling the plugin registers the client as the autoload "Emoplay".


func _enter_tree() -> void:
	add_autoload_singleton("Emoplay", "res://addons/emoplay/emoplay.gd")


func _exit_tree() -> void:
	remove_autoload_singleton("Emoplay")
