from django.shortcuts import render


def statement(request):
    return render(request, "privacy/statement.html", {})
