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
int cmd_balance(int argc, char **argv);
int cmd_utility(int argc, char **argv);

#endif
