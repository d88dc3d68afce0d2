"""The WPS加载项 (WPS add-in): ribbon, page and JavaScript, backed by ``huizong serve``."""
