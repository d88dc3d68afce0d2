"""Excel-specific binary parts written without Excel: the VBA project (``vbaProject.bin``) of .xlsm files."""
