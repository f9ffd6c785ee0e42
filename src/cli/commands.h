/* One function per `clgan` command; each returns the process exit code. */
#ifndef CLGAN_CLI_COMMANDS_H
#define CLGAN_CLI_COMMANDS_H

int cmd_devices(int argc, char **argv);
int cmd_slice(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_balance(int argc, char **argv);
int cmd_utility(int argc, char **argv);

/* The command table, defined once (commands.c): main dispatches on it and the
 * option-parser fuzz harness runs every command's options through it. */
typedef struct cli_command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} cli_command;

extern const cli_command cli_commands[];
extern const int cli_command_count;

#endif
