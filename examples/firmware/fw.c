/* fw.c — a small thermostat firmware for the example board.
 *
 * Peripherals (see board.py for the Python models):
 *   UART  0x10000000  16550 subset: THR/RBR at 0, LSR at 5
 *   TEMP  0x10001000  ID, CTRL (1 = convert), STATUS (bit 0 ready), VALUE (milli-degC)
 *   GPIO  0x10002000  DIR, OUT, IN;  OUT bit 0 = fan, bit 2 = LED; IN bit 1 = button
 *
 * Behaviour: prints a banner, then forever calls main_loop(), which switches
 * the fan on above the threshold and off 2 degC below it (hysteresis),
 * toggles the LED on each button press and answers UART commands:
 * 't' prints the temperature, 'u' the uptime in microseconds (time CSR). */
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000)
#define TEMP ((volatile uint32_t *)0x10001000)
#define GPIO ((volatile uint32_t *)0x10002000)
#define TEMP_ID 0x54454D50u          /* "TEMP" */
#define FAN 1u
#define LED 4u
#define BUTTON 2u

int32_t threshold_mc = 30000;
volatile uint32_t loops;
static int fan_on, led_on, last_button;

static void uart_putc(char c)
{
    while (!(UART[5] & 0x20))
        ;
    UART[0] = (uint8_t)c;
}

static void uart_puts(const char *s)
{
    while (*s)
        uart_putc(*s++);
}

static void put_dec(int64_t v)
{
    char buf[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)-v : (uint64_t)v;
    do {
        buf[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        uart_putc('-');
    while (n)
        uart_putc(buf[--n]);
}

/* Milli-degrees as "-12.345". */
static void put_temp(int32_t mc)
{
    if (mc < 0) {
        uart_putc('-');
        mc = -mc;
    }
    put_dec(mc / 1000);
    uart_putc('.');
    int frac = mc % 1000;
    uart_putc((char)('0' + frac / 100));
    uart_putc((char)('0' + frac / 10 % 10));
    uart_putc((char)('0' + frac % 10));
}

int32_t read_temp(void)
{
    TEMP[1] = 1;
    while (!(TEMP[2] & 1))
        ;
    return (int32_t)TEMP[3];
}

static uint64_t rdtime(void)
{
    uint64_t t;
    __asm__ volatile("rdtime %0" : "=r"(t));
    return t;
}

static void command(int c, int32_t t)
{
    if (c == 't') {
        uart_puts("T=");
        put_temp(t);
        uart_puts(" C\n");
    } else if (c == 'u') {
        uart_puts("uptime ");
        put_dec((int64_t)(rdtime() / 10));   /* the time CSR counts at 10 MHz */
        uart_puts(" us\n");
    }
}

__attribute__((noinline)) void main_loop(void)
{
    int32_t t = read_temp();
    int want = t > threshold_mc ? 1 : t < threshold_mc - 2000 ? 0 : fan_on;
    if (want != fan_on) {
        fan_on = want;
        uart_puts(want ? "FAN on (T=" : "FAN off (T=");
        put_temp(t);
        uart_puts(")\n");
    }
    int button = (GPIO[2] & BUTTON) != 0;
    if (button && !last_button) {
        led_on = !led_on;
        uart_puts(led_on ? "LED on\n" : "LED off\n");
    }
    last_button = button;
    GPIO[1] = (fan_on ? FAN : 0) | (led_on ? LED : 0);
    if (UART[5] & 1)
        command(UART[0], t);
    loops++;
}

void fw_main(void)
{
    GPIO[0] = FAN | LED;
    uart_puts("fw v1 ready\n");
    if (TEMP[0] != TEMP_ID) {
        uart_puts("no temperature sensor\n");
        for (;;)
            ;
    }
    for (;;)
        main_loop();
}
