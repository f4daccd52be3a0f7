"""Draw detections on the original image (Pillow), for people to look at."""
from PIL import Image, ImageDraw, ImageFont

PALETTE = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40))


def draw_detections(rgb, detections) -> Image.Image:
    """RGB uint8 array + detections -> a PIL image with labelled boxes, best drawn last."""
    image = Image.fromarray(rgb).convert("RGB")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    width = max(2, round(max(image.size) / 320))
    for det in sorted(detections, key=lambda d: d.score):
        x, y, w, h = det.box
        colour = PALETTE[det.label % len(PALETTE)]
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=width)
        caption = f"{det.category_name} {det.score:.2f}"
        left, top, right, bottom = draw.textbbox((x, y), caption, font=font)
        lift = bottom - top + 2
        text_y = y - lift if y - lift >= 0 else y
        draw.rectangle([x, text_y, x + right - left + 4, text_y + lift], fill=colour)
        draw.text((x + 2, text_y), caption, fill=(0, 0, 0), font=font)
    return image
