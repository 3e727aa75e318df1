// Placeholder: the Spoke bridge (a CommonJS module) replaces this file.
