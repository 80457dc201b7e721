#ifndef TRAINER_CCURL_SHIM_H
#define TRAINER_CCURL_SHIM_H
#include <stdio.h>
#include <curl/curl.h>

/* curl_easy_setopt is variadic, which Swift cannot call: one GET of `url` into `out`, set up here.
 * Fails on HTTP errors (>= 400), follows redirects, gives up connecting after `connect_timeout`
 * seconds and when fewer than 1 byte/s arrive for `stall_timeout` seconds; `progress` shows
 * libcurl's meter on stderr. `error` (CURL_ERROR_SIZE bytes) receives the reason of a failure. */
static inline CURLcode trainer_curl_get(const char *url, FILE *out, long connect_timeout, long stall_timeout,
                                        int progress, char *error) {
    CURL *c = curl_easy_init();
    if (c == NULL) return CURLE_FAILED_INIT;
    error[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect_timeout);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_timeout);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, progress ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "trainer");
    CURLcode code = curl_easy_perform(c);
    if (code != CURLE_OK && error[0] == 0) snprintf(error, CURL_ERROR_SIZE, "%s", curl_easy_strerror(code));
    curl_easy_cleanup(c);
    return code;
}
#endif
